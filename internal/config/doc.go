// Package config loads Skiff's TOML configuration files strictly.
//
// Skiff's daemons read TOML files whose keys are RocketMQ's configuration field names
// (listenPort, brokerClusterName, storePathRootDir, ...). RocketMQ itself silently ignores keys
// it does not know; Skiff refuses them, because a misspelt key that is ignored leaves the daemon
// running with a default the operator did not want.
//
// Loading happens in two steps:
//
//  1. Decode with BurntSushi/toml into the caller's struct (which the caller has filled with its
//     defaults first, so keys absent from the file keep their default). Any key the decoder did not
//     map onto a field (MetaData.Undecoded) is an error that names the key and the file. Type
//     mismatches are reported by the decoder with the key and line.
//  2. If the destination has a Validate() error method, it is called; its error is returned
//     wrapped with the file name. Validate methods name the bad key and value.
//
// ParseAddrList parses RocketMQ's ";"-separated address lists ("ip:port;ip:port"), as used by
// namesrvAddr and the -n flags.
//
// The package has no state and no goroutines.
package config
