package tenantstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// DatabasePlaceholder is replaced by the tenant's database name in a
// TENANT_DATABASE_TEMPLATE.
const DatabasePlaceholder = "{database}"

// maxIdentifierLength is PostgreSQL's limit on names (NAMEDATALEN - 1).
const maxIdentifierLength = 63

// DSNConfig resolves a tenant's database URL.
type DSNConfig struct {
	// Template is the URL of tenant databases on the shared server, with
	// DatabasePlaceholder where the database name goes, e.g.
	// "postgres://postgres@127.0.0.1:5432/{database}?sslmode=disable". Its
	// user and password are those of the provisioning (admin) user; a tenant
	// with a login role connects as that role instead.
	Template string
	// Getenv reads TENANT_<SUB>_DATABASE_URL overrides and the password
	// variables of explicit placements; nil means os.Getenv.
	Getenv func(string) string
}

func (c DSNConfig) getenv(k string) string {
	if c.Getenv == nil {
		return os.Getenv(k)
	}
	return c.Getenv(k)
}

// OverrideVar names the environment variable that overrides the database URL
// of the tenant with subdomain sub: TENANT_<SUB>_DATABASE_URL with <SUB>
// upper-cased and '-' replaced by '_'.
func OverrideVar(sub string) string {
	return "TENANT_" + strings.ToUpper(strings.ReplaceAll(sub, "-", "_")) + "_DATABASE_URL"
}

// URL returns the URL the application uses for t's database. Precedence:
// the TENANT_<SUB>_DATABASE_URL variable, then the tenant's explicit
// placement (a URL, or host/port/user with the password read from the named
// variable), then the template with the tenant's database name and, when
// the tenant has a login role, that role as user and password. Errors never
// contain a password.
func (c DSNConfig) URL(t *Tenant) (string, error) {
	if u := c.getenv(OverrideVar(t.Subdomain)); u != "" {
		return u, nil
	}
	p := t.Placement
	switch p.Kind() {
	case "url":
		return withRole(p.URL, p.RoleName, p.RolePassword)
	case "parts":
		return c.partsURL(t)
	}
	return c.templateURL(t.DatabaseName, p.RoleName, p.RolePassword)
}

// withRole gives a URL without user info the login role's credentials; a URL
// with its own user is returned as it is.
func withRole(raw, role, password string) (string, error) {
	if role == "" {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("tenant database URL %s is not a URL", RedactURL(raw))
	}
	if u.User != nil {
		return raw, nil
	}
	u.User = url.UserPassword(role, password)
	return u.String(), nil
}

// WithoutCredentials returns raw without its user info, for storing a
// placement that is reached as the tenant's own role.
func WithoutCredentials(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("database URL %s is not a URL", RedactURL(raw))
	}
	u.User = nil
	return u.String(), nil
}

// ServerKey returns the normalised server of the database URL raw: its
// lower-case "host:port" (the port defaulted as libpq does), or "" when that
// is the server of the template, which is also the key of every
// template-placed tenant. The control plane keeps tenants' (server,
// database) pairs unique under this key.
func (c DSNConfig) ServerKey(raw string) (string, error) {
	key, err := serverKey(raw)
	if err != nil {
		return "", err
	}
	if c.Template != "" {
		if tk, err := serverKey(strings.ReplaceAll(c.Template, DatabasePlaceholder, "postgres")); err == nil && tk == key {
			return "", nil
		}
	}
	return key, nil
}

// TemplateServer returns the "host:port" of the template's server, or "".
func (c DSNConfig) TemplateServer() string {
	k, _ := serverKey(strings.ReplaceAll(c.Template, DatabasePlaceholder, "postgres"))
	return k
}

func serverKey(raw string) (string, error) {
	cfg, err := pgconn.ParseConfig(raw)
	if err != nil {
		return "", &ValidationError{Field: "database_url", Message: "is not a valid PostgreSQL URL"}
	}
	return hostKey(cfg.Host, cfg.Port), nil
}

// hostKey is the normalised "host:port" of one server.
func hostKey(host string, port uint16) string {
	return strings.ToLower(net.JoinHostPort(strings.TrimSuffix(host, "."), strconv.Itoa(int(port))))
}

// ServerAdminURL returns the URL of database on the server of t's database
// with the template's (provisioning) credentials and options: the
// credentials used to create, restore and drop databases and roles there
// when t is reached as its own login role on another server that is not
// registered (see Store.ServerAdminURL, which prefers a registered
// server's operator): the fallback for tenants moved before servers were
// registered.
func (c DSNConfig) ServerAdminURL(t *Tenant, database string) (string, error) {
	base, err := c.AdminURL(database)
	if err != nil || t.Placement.Kind() != "url" {
		return base, err
	}
	pu, err := url.Parse(t.Placement.URL)
	if err != nil {
		return "", fmt.Errorf("tenant database URL %s is not a URL", RedactURL(t.Placement.URL))
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Host = pu.Host
	return u.String(), nil
}

// AdminURL returns the URL of database on the template's server with the
// template's own (provisioning) credentials.
func (c DSNConfig) AdminURL(database string) (string, error) {
	return c.templateURL(database, "", "")
}

func (c DSNConfig) templateURL(database, user, password string) (string, error) {
	if c.Template == "" {
		return "", fmt.Errorf("no tenant database template: set TENANT_DATABASE_TEMPLATE or give the tenant an explicit database URL")
	}
	if !strings.Contains(c.Template, DatabasePlaceholder) {
		return "", fmt.Errorf("tenant database template %s has no %s placeholder", RedactURL(c.Template), DatabasePlaceholder)
	}
	u, err := url.Parse(strings.ReplaceAll(c.Template, DatabasePlaceholder, "placeholder-db"))
	if err != nil {
		return "", fmt.Errorf("parsing tenant database template %s: not a URL", RedactURL(c.Template))
	}
	u.Path = "/" + database
	u.RawPath = ""
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String(), nil
}

func (c DSNConfig) partsURL(t *Tenant) (string, error) {
	p := t.Placement
	u := &url.URL{Scheme: "postgres", Host: p.Host, Path: "/" + t.DatabaseName}
	if p.Host == "" {
		u.Host = "127.0.0.1"
	}
	if p.Port != 0 {
		u.Host += ":" + strconv.Itoa(p.Port)
	}
	if p.User != "" {
		u.User = url.User(p.User)
	}
	if p.PasswordEnv != "" {
		pw := c.getenv(p.PasswordEnv)
		if pw == "" {
			return "", fmt.Errorf("database password of tenant %q: variable %s is empty or unset; set it in the environment", t.Subdomain, p.PasswordEnv)
		}
		u.User = url.UserPassword(p.User, pw)
	}
	return u.String(), nil
}

// DefaultTemplate derives TENANT_DATABASE_TEMPLATE from DATABASE_URL: the
// same server and credentials, database DatabasePlaceholder.
func DefaultTemplate(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("DATABASE_URL %s is not a URL", RedactURL(databaseURL))
	}
	u.Path, u.RawPath = "/"+DatabasePlaceholder, ""
	// url.URL escapes the braces; put the placeholder back literally.
	return strings.Replace(u.String(), "/%7Bdatabase%7D", "/"+DatabasePlaceholder, 1), nil
}

// DatabaseName returns the database (and login role) name of the tenant
// with subdomain sub: prefix + sub with '-' replaced by '_'. A name longer
// than PostgreSQL's 63 bytes is cut and ends in '_' and 8 hex digits of the
// SHA-256 of the full name, so two subdomains never share a name.
func DatabaseName(prefix, sub string) string {
	name := prefix + strings.ReplaceAll(sub, "-", "_")
	if len(name) <= maxIdentifierLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "_" + hex.EncodeToString(sum[:4])
	return name[:maxIdentifierLength-len(suffix)] + suffix
}
