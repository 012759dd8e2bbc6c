// Command mqadmin is Skiff's administration tool, with RocketMQ's command and option names:
//
//	mqadmin clusterList  [-n ns]
//	mqadmin topicList    [-n ns]
//	mqadmin topicRoute   -t topic [-n ns]
//	mqadmin updateTopic  -t topic (-b addr | -c cluster) [-r 8] [-w 8] [-p 6] [-o false] [-n ns]
//	mqadmin deleteTopic  -t topic -c cluster [-n ns]
//	mqadmin brokerStatus (-b addr | -c cluster) [-n ns]
//
// -n/--namesrvAddr takes "ip:port;ip:port" and defaults to $NAMESRV_ADDR. With ACL on, every
// command takes --accessKey/--secretKey (or conf/tools.toml, see --toolsConfig); --tls connects over
// TLS. On failure mqadmin
// prints one line "mqadmin: <reason>" to stderr and exits with code 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

// callTimeout bounds each command's requests.
const callTimeout = 10 * time.Second

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes mqadmin with args (args[0] is the program name) and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if err := app.Run(args); err != nil {
		fmt.Fprintf(stderr, "mqadmin: %s\n", oneLine(err))
		return 1
	}
	return 0
}

// oneLine flattens joined errors into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:            "mqadmin",
		Usage:           "administer a Skiff (RocketMQ 4.x protocol) cluster",
		UsageText:       "mqadmin <command> [-n ip:port;ip:port] [options]",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: false,
		ExitErrHandler:  func(*cli.Context, error) {},
		Commands: []*cli.Command{
			withJSON(clusterListCommand()),
			withJSON(topicListCommand()),
			topicRouteCommand(),
			updateTopicCommand(),
			deleteTopicCommand(),
			withJSON(brokerStatusCommand()),
			withJSON(sendMessageCommand()),
			withJSON(consumeMessageCommand()),
			updateSubGroupCommand(),
			deleteSubGroupCommand(),
			getBrokerConfigCommand(),
			updateBrokerConfigCommand(),
			writePermCommand("wipeWritePerm", true),
			writePermCommand("addWritePerm", false),
			withJSON(consumerConnectionCommand()),
			withJSON(producerConnectionCommand()),
			withJSON(queryMsgByIDCommand()),
			withJSON(queryByKeyCommand("queryMsgByKey", false)),
			withJSON(queryByKeyCommand("queryMsgByUniqueKey", true)),
			withJSON(queryMsgByOffsetCommand()),
			withJSON(topicStatusCommand()),
			withJSON(consumerProgressCommand()),
			withJSON(resetOffsetByTimeCommand()),
			withJSON(clusterRTCommand()),
			getSyncStateSetCommand(),
			getControllerMetaDataCommand(),
			electMasterCommand(),
			getBrokerEpochCommand(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unknown command %q (run mqadmin --help for the list)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, cmd := range app.Commands {
		cmd.Flags = append(cmd.Flags, securityFlags()...)
	}
	return app
}

// namesrvFlag is -n/--namesrvAddr, on every command.
func namesrvFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "namesrvAddr",
		Aliases: []string{"n"},
		Usage:   "name server address list `ip:port;ip:port`",
		EnvVars: []string{"NAMESRV_ADDR"},
	}
}

// newAdmin builds the admin client from -n; the caller closes it.
func newAdmin(c *cli.Context) (*admin.Admin, error) {
	ns := c.String("namesrvAddr")
	if strings.TrimSpace(ns) == "" {
		return nil, errors.New("no name server address: use -n ip:port or set NAMESRV_ADDR")
	}
	opts, err := securityOptions(c)
	if err != nil {
		return nil, err
	}
	return admin.New(append(opts, admin.WithNameServers([]string{ns}))...)
}

// withAdmin runs fn with an admin client and a context bounded by callTimeout.
func withAdmin(c *cli.Context, fn func(ctx context.Context, a *admin.Admin) error) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", c.Command.Name, c.Args().First())
	}
	a, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(c.Context, callTimeout)
	defer cancel()
	return fn(ctx, a)
}

// targets resolves -b (one broker) or -c (every master of a cluster) to broker addresses.
func targets(ctx context.Context, c *cli.Context, a *admin.Admin) ([]string, error) {
	b, cl := c.String("brokerAddr"), c.String("clusterName")
	switch {
	case b != "" && cl != "":
		return nil, errors.New("give either -b brokerAddr or -c clusterName, not both")
	case b != "":
		return []string{b}, nil
	case cl != "":
		return a.MasterAddrs(ctx, cl)
	default:
		return nil, errors.New("one of -b brokerAddr or -c clusterName is required")
	}
}
