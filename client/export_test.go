package client

// InflateWithLimit exposes inflate with a chosen bound to the external tests.
var InflateWithLimit = inflate
