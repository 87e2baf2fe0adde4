package sales

import "testing"

func TestCurrencyFromLocale(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"", "USD"},
		{"en-GB,en;q=0.9", "GBP"},
		{"de", "USD"},
		{"fr;q=0.9, fr-CH", "CHF"},
		{"xx-ZZ, pt-BR;q=0.8", "BRL"},
		{"<script>", "USD"},
	} {
		if got := currencyFromLocale(tc.header); got != tc.want {
			t.Errorf("currencyFromLocale(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}
