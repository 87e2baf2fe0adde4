package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/tenantgate/tenantgate/appserver/webpage"
)

// flashCookie carries the notice of a dashboard action to the page the
// action redirects to (post/redirect/get). It is bound to the session by an
// HMAC, so nobody else can plant a message, and read once.
const flashCookie = "tg_admin_flash"

// maxFlash bounds a flash message (cookies stay well below 4 KB).
const maxFlash = 1000

func flashMAC(session, value string) []byte {
	key := sha256.Sum256([]byte(session))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("tenantgate-admin-flash|" + value))
	return m.Sum(nil)
}

// redirectWith answers 303 to the page to, which then shows msg as a notice
// (or, with isError, as an error).
func (a *Server) redirectWith(w http.ResponseWriter, r *http.Request, to, msg string, isError bool) {
	if s := a.session(r); s != "" && msg != "" {
		if len(msg) > maxFlash {
			msg = msg[:maxFlash] + "…"
		}
		kind := "n"
		if isError {
			kind = "e"
		}
		v := base64.RawURLEncoding.EncodeToString([]byte(kind + msg))
		v += "." + base64.RawURLEncoding.EncodeToString(flashMAC(s, v))
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v, Path: "/", HttpOnly: true, Secure: true,
			SameSite: http.SameSiteStrictMode, MaxAge: 60})
	}
	webpage.SeeOther(w, r, to)
}

// takeFlash moves the request's flash message, if any and valid for
// session, into d and clears the cookie.
func (a *Server) takeFlash(w http.ResponseWriter, r *http.Request, session string, d *webpage.Data) {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	v, mac, ok := strings.Cut(c.Value, ".")
	sum, err := base64.RawURLEncoding.DecodeString(mac)
	if !ok || err != nil || !hmac.Equal(sum, flashMAC(session, v)) {
		return
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) < 2 {
		return
	}
	if b[0] == 'e' {
		d.Error = string(b[1:])
	} else {
		d.Notice = string(b[1:])
	}
}
