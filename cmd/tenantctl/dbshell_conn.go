package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// psqlConn is how psql reaches a tenant database: PG* variables without
// the password, and the user and password for the password file.
type psqlConn struct {
	env            []string
	user, password string
}

// libpqVars maps the connection parameters of a URL's query that libpq
// reads from the environment too; anything else (pgx's own parameters) is
// not passed on.
var libpqVars = map[string]string{
	"host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER",
	"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
	"sslcrl": "PGSSLCRL", "sslnegotiation": "PGSSLNEGOTIATION", "sslsni": "PGSSLSNI",
	"requirepeer": "PGREQUIREPEER", "channel_binding": "PGCHANNELBINDING", "gssencmode": "PGGSSENCMODE",
	"connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME", "options": "PGOPTIONS",
	"target_session_attrs": "PGTARGETSESSIONATTRS", "load_balance_hosts": "PGLOADBALANCEHOSTS",
}

// psqlConnection turns a tenant database URL into a psqlConn. URLs
// ("postgres://…") keep every libpq setting of their query; keyword/value
// strings, and URLs net/url cannot read (IPv6 among several hosts), pass
// the first host, its port, database, user and the TLS mode.
func psqlConnection(raw string) (*psqlConn, error) {
	u, err := url.Parse(raw)
	switch {
	case !strings.Contains(raw, "://"):
		return parsedConnection(raw)
	case err == nil && u.Scheme != "postgres" && u.Scheme != "postgresql":
		return nil, fmt.Errorf("database URL %s is not a postgres:// URL", tenantstore.RedactURL(raw))
	case err != nil:
		return parsedConnection(raw)
	}
	vars := map[string]string{"PGDATABASE": strings.TrimPrefix(u.Path, "/")}
	c := &psqlConn{}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	if u.Host != "" {
		var hosts, ports []string
		for _, hp := range strings.Split(u.Host, ",") {
			h, p, err := net.SplitHostPort(hp)
			if err != nil { // no port
				h, p = strings.Trim(hp, "[]"), "5432"
			}
			hosts, ports = append(hosts, h), append(ports, p)
		}
		vars["PGHOST"], vars["PGPORT"] = strings.Join(hosts, ","), strings.Join(ports, ",")
	}
	for k, v := range u.Query() {
		switch {
		case k == "password":
			c.password = v[len(v)-1]
		case k == "user":
			c.user = v[len(v)-1]
		case libpqVars[k] != "":
			vars[libpqVars[k]] = v[len(v)-1]
		}
	}
	if c.user == "" {
		return nil, fmt.Errorf("database URL %s names no user", tenantstore.RedactURL(raw))
	}
	vars["PGUSER"] = c.user
	for k, v := range vars {
		if v != "" {
			c.env = append(c.env, k+"="+v)
		}
	}
	return c, nil
}

// parsedConnection reads a connection string with pgx's parser.
func parsedConnection(raw string) (*psqlConn, error) {
	cfg, err := pgconn.ParseConfig(raw)
	if err != nil {
		return nil, errors.New("the database connection string is not valid")
	}
	mode := "disable"
	if t := cfg.TLSConfig; t != nil {
		switch {
		case len(cfg.Fallbacks) > 0 && cfg.Fallbacks[len(cfg.Fallbacks)-1].TLSConfig == nil:
			mode = "prefer"
		case t.InsecureSkipVerify && t.VerifyPeerCertificate != nil:
			mode = "verify-ca"
		case t.InsecureSkipVerify:
			mode = "require"
		default:
			mode = "verify-full"
		}
	}
	return &psqlConn{user: cfg.User, password: cfg.Password, env: []string{
		"PGHOST=" + cfg.Host, "PGPORT=" + strconv.Itoa(int(cfg.Port)), "PGDATABASE=" + cfg.Database,
		"PGUSER=" + cfg.User, "PGSSLMODE=" + mode,
	}}, nil
}
