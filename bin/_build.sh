# Sourced by the bin/ wrappers; not executable on its own.
#
# skiff_build NAME builds <repo>/build/NAME from ./cmd/NAME (CGO_ENABLED=0) when the binary is
# missing or older than any non-test .go file, go.mod or go.sum of the main module (compat/,
# itest/, build/, testdata/ and hidden folders excluded), then sets SKIFF_BIN to its path.
# The binary is built under a temporary name and renamed, so wrappers started at the same time
# never run a half-written file.

SKIFF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

skiff_go() {
  if [ -n "${GO:-}" ]; then
    echo "$GO"
  elif command -v go >/dev/null 2>&1; then
    echo go
  elif [ -x /usr/local/go/bin/go ]; then
    echo /usr/local/go/bin/go
  else
    echo "skiff: the go tool is not on PATH (set GO=/path/to/go)" >&2
    return 1
  fi
}

# skiff_stale BIN prints the first source file newer than BIN (nothing when BIN is up to date).
skiff_stale() {
  find "$SKIFF_ROOT" \
    \( -path "$SKIFF_ROOT/compat" -o -path "$SKIFF_ROOT/itest" -o -path "$SKIFF_ROOT/build" \
       -o -name testdata -o \( -name '.*' ! -path "$SKIFF_ROOT" \) \) -prune \
    -o -type f \( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum \) \
       -newer "$1" -print -quit
}

skiff_build() {
  local name="$1"
  local bin="$SKIFF_ROOT/build/$name"
  if [ ! -x "$bin" ] || [ -n "$(skiff_stale "$bin")" ]; then
    local gotool
    gotool="$(skiff_go)" || exit 1
    mkdir -p "$SKIFF_ROOT/build"
    local tmp="$bin.tmp.$$"
    if ! (cd "$SKIFF_ROOT" && CGO_ENABLED=0 "$gotool" build -o "$tmp" "./cmd/$name"); then
      rm -f "$tmp"
      echo "skiff: building $name failed" >&2
      exit 1
    fi
    mv -f "$tmp" "$bin"
  fi
  SKIFF_BIN="$bin"
}
