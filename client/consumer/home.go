package consumer

import "os"

var osUserHome = os.UserHomeDir
