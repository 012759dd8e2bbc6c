package broker

// Version is the Skiff release reported in runtime info.
const Version = "0.1.0"
