package dashboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/skiffmq/skiff/internal/httpapi"
)

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// Paths under which the dashboard is mounted.
const (
	PagePrefix = "/dashboard/"     // HTML pages, static files and form actions
	APIPrefix  = "/api/dashboard/" // the same pages as JSON
)

const csrfCookie = "skiff_csrf"

type atomicDashboard = atomic.Pointer[Dashboard]

// Authorizer decides whether the request may change the cluster and names who makes it (e.g.
// "admin@10.0.0.5:51234", as it appears in the log). It is the single gate every dashboard action
// passes; it returns an error wrapping ErrUnauthorized (the browser is asked for credentials) or
// another error to refuse. It may return the Source the action runs with (an admin client that
// carries the caller's credentials, so brokers check them too) and a function that releases it;
// a nil Source means Config.Source.
type Authorizer func(ctx *fasthttp.RequestCtx) (who string, src Source, release func(), err error)

type sourceKey struct{}

// source returns the Source of this call: the one an Authorizer put in c, or Config.Source.
func (d *Dashboard) source(c context.Context) Source {
	if c != nil {
		if s, ok := c.Value(sourceKey{}).(Source); ok && s != nil {
			return s
		}
	}
	return d.cfg.Source
}

// ErrUnauthorized is returned by an Authorizer when the request carries no valid admin
// credentials; the dashboard answers 401 with a Basic challenge.
var ErrUnauthorized = errors.New("dashboard: admin credentials required")

// Config configures a Dashboard.
type Config struct {
	Source Source       // required: the cluster (usually an *admin.Admin)
	Scope  string       // a broker address: show only that broker ("" = every broker the name servers know)
	Title  string       // shown in the header, e.g. "name server 127.0.0.1:9876"
	Logger *slog.Logger // default: discard
	// Authorize gates every action; nil lets anyone who passes the CSRF check act, logged as
	// "anonymous" with the client address.
	Authorize Authorizer
	// AuthorizeRead, when set, gates every page and JSON answer too (with ACL on, message bodies
	// and offsets are not for everyone who reaches the HTTP port); the Source it returns serves
	// the page. Static files are always served.
	AuthorizeRead Authorizer
	// Now is the clock of the sampler and of relative times (tests); default time.Now.
	Now func() time.Time
	// SampleInterval is how often the sampler reads every broker's runtime info (default 10 s).
	SampleInterval time.Duration
	// History is how long samples are kept for the charts (default 1 h).
	History time.Duration
	// PageSize is the default number of rows per page (default 50, at most 500).
	PageSize int
	// Timeout bounds the cluster calls of one page (default 10 s).
	Timeout time.Duration
}

// Dashboard serves the pages, the JSON API and the actions. Create it with New, mount Mounts() on
// an HTTP server, Start the sampler and Close it on shutdown.
type Dashboard struct {
	cfg     Config
	log     *slog.Logger
	tmpl    map[string]*template.Template
	static  fs.FS
	sampler *sampler
	audit   *auditLog

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New checks cfg, parses the templates and returns a Dashboard whose sampler is not running yet.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Source == nil {
		return nil, errors.New("dashboard: Config.Source is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = 10 * time.Second
	}
	if cfg.History <= 0 {
		cfg.History = time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	cfg.PageSize = min(cfg.PageSize, maxPageSize)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Title == "" {
		cfg.Title = "Skiff"
	}
	d := &Dashboard{cfg: cfg, log: cfg.Logger.With("component", "dashboard"), stop: make(chan struct{}), done: make(chan struct{}),
		audit: &auditLog{max: 100}}
	var err error
	if d.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	if d.static, err = fs.Sub(webFS, "web/static"); err != nil {
		return nil, err
	}
	d.sampler = newSampler(d)
	return d, nil
}

// Mounts returns the handlers to mount on an httpapi server: "/" redirects to the overview.
func (d *Dashboard) Mounts() httpapi.Mounts {
	return httpapi.Mounts{"/": d.root, PagePrefix: d.serve, APIPrefix: d.serve}
}

// Start runs the sampler in the background until Close.
func (d *Dashboard) Start() {
	go d.sampler.loop(d.stop, d.done)
}

// Close stops the sampler and waits for it. It is idempotent.
func (d *Dashboard) Close() {
	d.stopOnce.Do(func() {
		close(d.stop)
		select {
		case <-d.done:
		case <-time.After(d.cfg.Timeout + time.Second):
			// the loop was never started, or a sample is stuck in a call that times out soon
		}
	})
}

func (d *Dashboard) root(ctx *fasthttp.RequestCtx) {
	ctx.Redirect(PagePrefix, fasthttp.StatusFound)
}

// page is one view: build returns its data, rendered by the template of the same name or as JSON.
type page struct {
	title string
	build func(d *Dashboard, c context.Context, q url.Values) (any, error)
}

var pages = map[string]page{
	"":          {"Overview", (*Dashboard).overview},
	"overview":  {"Overview", (*Dashboard).overview},
	"topics":    {"Topics", (*Dashboard).topics},
	"topic":     {"Topic", (*Dashboard).topic},
	"groups":    {"Consumer groups", (*Dashboard).groups},
	"group":     {"Consumer group", (*Dashboard).group},
	"producers": {"Producers", (*Dashboard).producers},
	"messages":  {"Messages", (*Dashboard).messages},
	"message":   {"Message", (*Dashboard).message},
	"dlq":       {"Dead-letter queue", (*Dashboard).dlq},
	"config":    {"Broker configuration", (*Dashboard).brokerConfig},
	"namesrv":   {"Name servers", (*Dashboard).nameServers},
}

// badRequest marks an error caused by the request's parameters (400 instead of 502).
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return badRequest{fmt.Sprintf(format, args...)} }

func (d *Dashboard) serve(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	api := strings.HasPrefix(path, APIPrefix)
	name := strings.TrimPrefix(strings.TrimPrefix(path, APIPrefix), PagePrefix)
	if !api {
		if file, ok := strings.CutPrefix(name, "static/"); ok {
			d.serveStatic(ctx, file)
			return
		}
		if act, ok := strings.CutPrefix(name, "action/"); ok {
			d.act(ctx, act)
			return
		}
	}
	p, ok := pages[name]
	if !ok {
		d.fail(ctx, api, "", fasthttp.StatusNotFound, fmt.Errorf("no page %q", name))
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		d.fail(ctx, api, p.title, fasthttp.StatusMethodNotAllowed, errors.New("pages answer GET; actions are POSTs to "+PagePrefix+"action/..."))
		return
	}
	q := queryValues(ctx)
	c, cancel := context.WithTimeout(context.Background(), d.cfg.Timeout)
	defer cancel()
	if d.cfg.AuthorizeRead != nil {
		_, src, release, err := d.cfg.AuthorizeRead(ctx)
		if release != nil {
			defer release()
		}
		if err != nil {
			code := fasthttp.StatusForbidden
			if errors.Is(err, ErrUnauthorized) {
				ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="skiff admin", charset="UTF-8"`)
				code = fasthttp.StatusUnauthorized
			}
			d.fail(ctx, api, p.title, code, err)
			return
		}
		if src != nil {
			c = context.WithValue(c, sourceKey{}, src)
		}
	}
	data, err := p.build(d, c, q)
	if err != nil {
		code := fasthttp.StatusBadGateway
		var br badRequest
		if errors.As(err, &br) {
			code = fasthttp.StatusBadRequest
		}
		d.fail(ctx, api, p.title, code, err)
		return
	}
	if api {
		writeJSON(ctx, fasthttp.StatusOK, data)
		return
	}
	if name == "" {
		name = "overview"
	}
	d.render(ctx, fasthttp.StatusOK, name, p.title, q, data)
}

// queryValues copies the query arguments out of ctx (they are only valid during the handler).
func queryValues(ctx *fasthttp.RequestCtx) url.Values {
	q := url.Values{}
	ctx.QueryArgs().VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
	return q
}

func formValues(ctx *fasthttp.RequestCtx) url.Values {
	f := url.Values{}
	ctx.PostArgs().VisitAll(func(k, v []byte) { f.Add(string(k), string(v)) })
	return f
}

func writeJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	enc := json.NewEncoder(ctx)
	enc.SetIndent("", " ")
	_ = enc.Encode(v)
}

func (d *Dashboard) fail(ctx *fasthttp.RequestCtx, api bool, title string, code int, err error) {
	if code >= 500 {
		d.log.Warn("dashboard page failed", "path", string(ctx.Path()), "err", err)
	}
	if api {
		writeJSON(ctx, code, map[string]string{"error": err.Error()})
		return
	}
	if title == "" {
		title = "Error"
	}
	d.render(ctx, code, "error", title, url.Values{}, map[string]string{"Error": err.Error()})
}

// view is what every template receives.
type view struct {
	Title, Page, Heading string
	Scope                string
	CSRF                 string
	Q                    url.Values
	Data                 any
	Now                  time.Time
}

func (d *Dashboard) render(ctx *fasthttp.RequestCtx, code int, name, title string, q url.Values, data any) {
	t, ok := d.tmpl[name]
	if !ok {
		ctx.Error("no template "+name, fasthttp.StatusInternalServerError)
		return
	}
	v := view{Title: d.cfg.Title, Page: name, Heading: title, Scope: d.cfg.Scope, CSRF: d.csrfToken(ctx), Q: q, Data: data, Now: d.cfg.Now()}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		d.log.Error("dashboard template failed", "page", name, "err", err)
		ctx.Error("template error", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(code)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.Header.Set("Referrer-Policy", "same-origin")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	_, _ = ctx.Write(buf.Bytes())
}

// csrfToken returns the double-submit token of this browser: the value of its csrf cookie, set
// here (random, HttpOnly, SameSite=Strict) when the request has none.
func (d *Dashboard) csrfToken(ctx *fasthttp.RequestCtx) string {
	if tok := string(ctx.Request.Header.Cookie(csrfCookie)); validToken(tok) {
		return tok
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	var c fasthttp.Cookie
	c.SetKey(csrfCookie)
	c.SetValue(tok)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	ctx.Response.Header.SetCookie(&c)
	ctx.Request.Header.SetCookie(csrfCookie, tok) // later calls in this request see it
	return tok
}

func validToken(tok string) bool {
	if len(tok) != 32 {
		return false
	}
	_, err := hex.DecodeString(tok)
	return err == nil
}

// checkCSRF accepts a POST whose form field csrf equals its csrf cookie and whose Origin, when
// sent, is this host.
func checkCSRF(ctx *fasthttp.RequestCtx, form url.Values) error {
	cookie := string(ctx.Request.Header.Cookie(csrfCookie))
	tok := form.Get("csrf")
	if !validToken(cookie) || subtle.ConstantTimeCompare([]byte(cookie), []byte(tok)) != 1 {
		return errors.New("missing or wrong CSRF token: reload the page and try again")
	}
	if origin := string(ctx.Request.Header.Peek("Origin")); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != string(ctx.Host()) {
			return fmt.Errorf("cross-origin request from %q refused", origin)
		}
	}
	return nil
}

func (d *Dashboard) serveStatic(ctx *fasthttp.RequestCtx, name string) {
	if name == "" || strings.Contains(name, "..") || strings.Contains(name, "/") {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	b, err := fs.ReadFile(d.static, name)
	if err != nil {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	switch {
	case strings.HasSuffix(name, ".js"):
		ctx.SetContentType("text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		ctx.SetContentType("text/css; charset=utf-8")
	default:
		ctx.SetContentType("text/plain; charset=utf-8")
	}
	ctx.Response.Header.Set("Cache-Control", "public, max-age=3600")
	_, _ = ctx.Write(b)
}

// Lazy serves a Dashboard that is created after the HTTP server starts (the name server knows
// its own address only then); until Set, its handlers answer 503.
type Lazy struct{ p atomicDashboard }

// Set installs d.
func (l *Lazy) Set(d *Dashboard) { l.p.Store(d) }

// Mounts returns handlers that forward to the installed Dashboard.
func (l *Lazy) Mounts() httpapi.Mounts {
	fwd := func(ctx *fasthttp.RequestCtx) {
		d := l.p.Load()
		if d == nil {
			ctx.Error("the dashboard is starting", fasthttp.StatusServiceUnavailable)
			return
		}
		if string(ctx.Path()) == "/" {
			d.root(ctx)
			return
		}
		d.serve(ctx)
	}
	return httpapi.Mounts{"/": fwd, PagePrefix: fwd, APIPrefix: fwd}
}

// BasicAuth is an Authorizer that reads HTTP Basic credentials (the browser asks for them after a
// 401) and passes them to check with the client address; check returns who acts or an error. A
// request without credentials is refused with ErrUnauthorized before check is called unless
// optional is set (check then decides, e.g. when ACL is off and everyone may act).
//
// With actAs set, the action runs with the Source actAs returns for the same credentials (and
// releases it afterwards).
func BasicAuth(optional bool, check func(remote, user, password string) (who string, err error),
	actAs func(user, password string) (Source, func(), error)) Authorizer {
	return func(ctx *fasthttp.RequestCtx) (string, Source, func(), error) {
		user, pass, ok := basicCredentials(string(ctx.Request.Header.Peek("Authorization")))
		if !ok && !optional {
			return "", nil, nil, ErrUnauthorized
		}
		who, err := check(ctx.RemoteAddr().String(), user, pass)
		if err != nil {
			return "", nil, nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
		}
		if actAs == nil || !ok {
			return who, nil, nil, nil
		}
		src, release, err := actAs(user, pass)
		if err != nil {
			return "", nil, nil, err
		}
		return who, src, release, nil
	}
}

func basicCredentials(h string) (user, pass string, ok bool) {
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	return user, pass, ok
}
