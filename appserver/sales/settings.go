package sales

import (
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// DefaultCurrency is the currency of an organization that chose none and
// whose visitor's Accept-Language names no region we know.
const DefaultCurrency = "USD"

// regionCurrency maps the region of an Accept-Language tag to its currency.
var regionCurrency = map[string]string{
	"US": "USD", "GB": "GBP", "IE": "EUR", "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR",
	"BE": "EUR", "AT": "EUR", "PT": "EUR", "FI": "EUR", "GR": "EUR", "CH": "CHF", "SE": "SEK", "NO": "NOK",
	"DK": "DKK", "PL": "PLN", "CZ": "CZK", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "JP": "JPY", "CN": "CNY",
	"IN": "INR", "BR": "BRL", "MX": "MXN", "ZA": "ZAR", "KR": "KRW", "SG": "SGD", "HK": "HKD",
}

// currencyFromLocale is the currency of the first Accept-Language tag with
// a known region, else DefaultCurrency.
func currencyFromLocale(acceptLanguage string) string {
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if _, region, ok := strings.Cut(tag, "-"); ok {
			if c, ok := regionCurrency[strings.ToUpper(region)]; ok {
				return c
			}
		}
	}
	return DefaultCurrency
}

// Settings are the organization's own preferences.
type Settings struct {
	// Currency is the ISO 4217 code amounts are shown in.
	Currency string `json:"currency"`
	// CurrencyIsDefault says no administrator chose it yet: it comes from
	// the request's Accept-Language (or is USD).
	CurrencyIsDefault bool `json:"currency_is_default"`
}

type settingsInput struct {
	Currency *string `json:"currency"`
}

// settings reads the organization's settings, defaults filled in.
func (s *Server) settings(r *http.Request) (Settings, error) {
	db, err := s.db(r)
	if err != nil {
		return Settings{}, err
	}
	var cur string
	err = db.QueryRow(r.Context(), `SELECT value FROM settings WHERE key = 'currency'`).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return Settings{Currency: currencyFromLocale(r.Header.Get("Accept-Language")), CurrencyIsDefault: true}, nil
	}
	if err != nil {
		return Settings{}, err
	}
	return Settings{Currency: cur}, nil
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := s.settings(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, st)
	return nil
}

// updateSettings changes the settings (administrators only).
func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var in settingsInput
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Currency != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.Currency))
		if len(c) != 3 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return httpapi.InvalidField("currency", "must be a three-letter ISO 4217 code such as USD or EUR")
		}
		db, err := s.db(r)
		if err != nil {
			return err
		}
		if _, err := db.Exec(r.Context(), `INSERT INTO settings (key, value) VALUES ('currency', $1)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`, c); err != nil {
			return err
		}
	}
	return s.getSettings(w, r)
}
