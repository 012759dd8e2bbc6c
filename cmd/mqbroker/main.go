// Command mqbroker runs a Skiff broker: `mqbroker -c broker.toml [-n "ip:port;ip:port"]`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/broker"
	"github.com/skiffmq/skiff/dashboard"
	"github.com/skiffmq/skiff/internal/config"
	"github.com/skiffmq/skiff/internal/daemon"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// importantKeys are what `-m` prints.
var importantKeys = []string{"brokerClusterName", "brokerName", "brokerId", "brokerRole", "flushDiskType",
	"namesrvAddr", "listenPort", "haListenPort", "brokerIP1", "storePathRootDir", "storePathCommitLog",
	"mappedFileSizeCommitLog", "autoCreateTopicEnable", "deleteWhen", "fileReservedTime"}

func run(args []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:      "mqbroker",
		Usage:     "run a Skiff broker",
		UsageText: "mqbroker -c broker.toml [-n \"ip:port;ip:port\"] [-p] [-m] [--check] [--repair-store]",
		Writer:    stdout, ErrWriter: stderr,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "configFile", Aliases: []string{"c"}, Usage: "broker TOML configuration file"},
			&cli.StringFlag{Name: "namesrvAddr", Aliases: []string{"n"}, Usage: "name server list \"ip:port;ip:port\" (overrides the file)"},
			&cli.BoolFlag{Name: "printConfigItem", Aliases: []string{"p"}, Usage: "print all configuration items and exit"},
			&cli.BoolFlag{Name: "printImportantConfig", Aliases: []string{"m"}, Usage: "print the important configuration items and exit"},
			&cli.BoolFlag{Name: "check", Usage: "validate the configuration and exit"},
			&cli.BoolFlag{Name: "repair-store", Usage: "after a refused start because of a corrupt commit-log record: move damaged segments to <storePathRootDir>/damaged/, keep every readable message, and exit"},
		},
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			cfg, err := broker.LoadConfig(c.String("configFile"))
			if err != nil {
				return err
			}
			if n := c.String("namesrvAddr"); n != "" {
				if _, err := config.ParseAddrList(n); err != nil {
					return fmt.Errorf("-n %q: %w", n, err)
				}
				cfg.NamesrvAddr = n
			}
			switch {
			case c.Bool("printConfigItem"):
				fmt.Fprint(stdout, cfg.Properties())
				return nil
			case c.Bool("printImportantConfig"):
				for _, line := range strings.Split(cfg.Properties(), "\n") {
					for _, k := range importantKeys {
						if strings.HasPrefix(line, k+"=") {
							fmt.Fprintln(stdout, line)
						}
					}
				}
				return nil
			case c.Bool("check"):
				fmt.Fprintln(stdout, "configuration OK")
				return nil
			case c.Bool("repair-store"):
				log, closer, err := daemon.NewLogger(filepath.Join(cfg.StorePathRootDir, "logs", "broker.log"), cfg.LogLevel, stderr)
				if err != nil {
					return err
				}
				defer closer.Close()
				summary, err := broker.RepairStore(cfg, log)
				if err != nil {
					return err
				}
				fmt.Fprint(stdout, summary)
				return nil
			}
			return serve(cfg, stderr)
		},
	}
	if err := app.Run(args); err != nil {
		fmt.Fprintf(stderr, "mqbroker: %v\n", err)
		return 1
	}
	return 0
}

func serve(cfg broker.Config, stderr io.Writer) error {
	log, closer, err := daemon.NewLogger(filepath.Join(cfg.StorePathRootDir, "logs", "broker.log"), cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	defer closer.Close()
	daemon.SetGCPercent(cfg.GCPercent, log)
	ctx, stop := daemon.NotifyContext(context.Background(), log)
	defer stop()
	var d *dashboard.Dashboard
	var started atomic.Pointer[broker.Broker] // the dashboard's action gate asks the running broker
	check := func(remote, user, password string) (string, error) {
		if b := started.Load(); b != nil {
			return b.CheckHTTPAdmin(remote, user, password)
		}
		return "", errors.New("the broker is still starting")
	}
	if cfg.HTTPPort >= 0 {
		if d, err = newDashboard(cfg, log, check); err != nil {
			log.Warn("dashboard not started", "err", err)
		} else {
			cfg.HTTPMounts = d.Mounts()
			defer d.Close()
		}
	}
	b, err := broker.New(cfg, log)
	if err != nil {
		log.Error("broker failed to start", "err", err)
		return err
	}
	if err := b.Start(); err != nil {
		log.Error("broker failed to start", "err", err)
		_ = b.Shutdown(context.Background())
		return err
	}
	started.Store(b)
	if d != nil {
		d.Start()
		if h := b.HTTPAddr(); h != "" {
			log.Info("dashboard serving", "url", "http://"+h+dashboard.PagePrefix)
		}
	}
	removePid, err := daemon.WritePidFile("mqbroker", cfg.ListenPort)
	if err != nil {
		log.Warn("pid file not written", "err", err)
	} else {
		defer removePid()
	}
	<-ctx.Done()
	log.Info("shutdown requested")
	if d != nil {
		d.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("shutdown finished with errors", "err", err)
		return err
	}
	return nil
}
