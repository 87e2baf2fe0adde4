package sales

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tenantgate/tenantgate/appserver/clientinfo"
	"github.com/tenantgate/tenantgate/internal/loginlimit"
)

// Login throttling (SPEC §9). Every login attempt is counted before the
// password is checked and given back when it succeeds, so the limits are on
// failures; over any of them the login answers 429 too_many_attempts with
// Retry-After, even with the right password.
var (
	// LoginAccountRule limits failed logins per (tenant, e-mail): a
	// password guesser gets 5 tries per 15 minutes per account.
	LoginAccountRule = loginlimit.Rule{Max: 5, Window: 15 * time.Minute}
	// LoginIPRule limits failed logins per client IP, whatever the tenant
	// or e-mail: guessing across many accounts from one address.
	LoginIPRule = loginlimit.Rule{Max: 20, Window: time.Minute}
)

// tenantLoginKeys are the counters of a tenant login: the (tenant, e-mail)
// account, hashed so no address is stored in Redis, and the client IP.
func tenantLoginKeys(tenantID, email, ip string) []loginlimit.Key {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + strings.ToLower(email)))
	return []loginlimit.Key{
		{Name: "account:" + hex.EncodeToString(sum[:16]), Rule: LoginAccountRule},
		{Name: "ip:" + clientinfo.IPBucket(ip), Rule: LoginIPRule},
	}
}
