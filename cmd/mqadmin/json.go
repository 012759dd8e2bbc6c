package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"
)

// jsonFlag is --json: the command prints its result as JSON (for scripts) instead of a table.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}
}

// withJSON adds --json to a command.
func withJSON(cmd *cli.Command) *cli.Command {
	cmd.Flags = append(cmd.Flags, jsonFlag())
	return cmd
}

// printJSON writes v as indented JSON when --json was given and reports whether it did.
func printJSON(c *cli.Context, v any) (bool, error) {
	if !c.Bool("json") {
		return false, nil
	}
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return true, enc.Encode(v)
}
