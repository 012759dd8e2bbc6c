// Command mqnamesrv runs the Skiff name server.
//
//	mqnamesrv [-c FILE] [-p] [--check]
//
// -c reads a TOML file with RocketMQ's key names (listenPort defaults to 9876); unknown keys and
// bad values are refused with the key named. -p prints every config item and exits; --check
// validates and exits. The server logs to <dir of kvConfigPath>/logs/namesrv.log and stderr,
// writes the pid file ${SKIFF_PID_DIR:-$HOME/.skiff/run}/mqnamesrv-<port>.pid, and stops
// gracefully on SIGTERM or SIGINT with exit code 0 (a second signal exits at once with code 1).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/dashboard"
	"github.com/skiffmq/skiff/internal/daemon"
	"github.com/skiffmq/skiff/namesrv"
)

// shutdownTimeout bounds the graceful stop.
const shutdownTimeout = 15 * time.Second

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:      "mqnamesrv",
		Usage:     "Skiff name server (RocketMQ 4.x protocol)",
		UsageText: "mqnamesrv [-c FILE] [-p] [--check]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "configFile", Aliases: []string{"c"}, Usage: "TOML config `FILE`"},
			&cli.BoolFlag{Name: "printConfigItem", Aliases: []string{"p"}, Usage: "print all config items and exit"},
			&cli.BoolFlag{Name: "check", Usage: "validate the config and exit"},
		},
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unexpected argument %q", c.Args().First())
			}
			return serve(c.String("configFile"), c.Bool("printConfigItem"), c.Bool("check"), stdout, stderr)
		},
	}
	if err := app.Run(args); err != nil {
		fmt.Fprintf(stderr, "mqnamesrv: %v\n", err)
		return 1
	}
	return 0
}

func serve(path string, printConfig, check bool, stdout, stderr io.Writer) error {
	cfg, err := namesrv.LoadConfig(path)
	if err != nil {
		return err
	}
	if printConfig {
		return toml.NewEncoder(stdout).Encode(cfg)
	}
	if check {
		name := path
		if name == "" {
			name = "the default configuration"
		}
		fmt.Fprintf(stdout, "%s is valid\n", name)
		return nil
	}

	log, closer, err := daemon.NewLogger(cfg.LogFile(), cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	defer closer.Close()

	ctx, stop := daemon.NotifyContext(context.Background(), log)
	defer stop()

	var dash dashboard.Lazy
	if cfg.HTTPPort != 0 {
		cfg.HTTPMounts = dash.Mounts()
	}
	srv, err := namesrv.New(cfg, log)
	if err != nil {
		log.Error("name server failed to start", "err", err)
		return err
	}
	if err := srv.Start(); err != nil {
		log.Error("name server failed to start", "err", err)
		return err
	}
	addr := srv.Addr()
	port := cfg.ListenPort
	if _, p, err := net.SplitHostPort(addr); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	removePid, err := daemon.WritePidFile("mqnamesrv", port)
	if err != nil {
		log.Error("pid file", "err", err)
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return err
	}
	defer removePid()

	log.Info("The Name Server boot success. serializeType=JSON, address=" + addr)
	fmt.Fprintf(stdout, "The Name Server boot success. serializeType=JSON, address=%s\n", addr)
	var d *dashboard.Dashboard
	if h := srv.HTTPAddr(); h != "" {
		if d, err = newDashboard(addr, time.Duration(cfg.DashboardSampleInterval)*time.Millisecond, log, cfg, srv.CheckHTTPAdmin); err != nil {
			log.Error("dashboard not started", "err", err)
		} else {
			dash.Set(d)
			d.Start()
			log.Info("dashboard serving", "url", dashboardURL(h))
			fmt.Fprintf(stdout, "Dashboard: %s\n", dashboardURL(h))
		}
	}

	<-ctx.Done()
	if d != nil {
		d.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("name server shutdown", "err", err)
		return err
	}
	log.Info("The Name Server shutdown OK")
	return nil
}
