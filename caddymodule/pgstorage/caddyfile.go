package pgstorage

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the storage from Caddyfile tokens. Syntax (the
// global storage option):
//
//	storage postgres [<database_url>] {
//		database_url       <url>        # default {env.DATABASE_URL}, else postgres://postgres@127.0.0.1:5432/tenantgate?sslmode=disable
//		encryption_key     <keys>       # base64 of 32 bytes, "new,old" to rotate; e.g. {env.CERT_STORAGE_KEY}
//		lock_lease         <duration>   # default 10s, at most 14s
//		lock_poll_interval <duration>   # default 1s, at most 1s
//	}
func (s *Storage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		s.DatabaseURL = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		switch opt {
		case "database_url":
			s.DatabaseURL = val
		case "encryption_key":
			s.EncryptionKey = val
		case "lock_lease", "lock_poll_interval":
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("%s %q: %v", opt, val, err)
			}
			if opt == "lock_lease" {
				s.LockLease = caddy.Duration(dur)
			} else {
				s.LockPollInterval = caddy.Duration(dur)
			}
		default:
			return d.Errf("unrecognized storage postgres option %q", opt)
		}
	}
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Storage)(nil)
