// Package example holds what every example program repeats around the SDK calls it shows: the
// common flags (-n/--namesrv, -v/--verbose), a context cancelled by Ctrl-C or SIGTERM, the SDK
// logger, and a bounded Shutdown.
package example

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

var name = "example"

// Main runs a command-line program called prog with flags plus -n/--namesrv (default
// $NAMESRV_ADDR, else 127.0.0.1:9876) and -v/--verbose; an error from action is printed as
// "prog: error" and exits 1.
func Main(prog, usage string, action cli.ActionFunc, flags ...cli.Flag) {
	name = prog
	all := append([]cli.Flag{
		&cli.StringFlag{Name: "namesrv", Aliases: []string{"n"}, Value: "127.0.0.1:9876", EnvVars: []string{"NAMESRV_ADDR"}, Usage: "name server address(es), `ip:port[;ip:port]`"},
	}, flags...)
	all = append(all, &cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log what the SDK does to stderr"})
	app := &cli.App{Name: prog, Usage: usage, Flags: all, Action: action}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
}

// SignalContext returns a context cancelled by Ctrl-C or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Logger returns a stderr logger with -v, else nil (the SDK is then silent).
func Logger(c *cli.Context) *slog.Logger {
	if c.Bool("verbose") {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return nil
}

// Shutdown calls a client's Shutdown with a 10 s deadline and reports a failure on stderr.
func Shutdown(what string, f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s shutdown: %v\n", name, what, err)
	}
}
