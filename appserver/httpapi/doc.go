// Package httpapi holds the JSON conventions of both appserver listeners
// (SPEC §7): the error body {"error": {code, message, field}} and the one
// mapping from errors to statuses (ErrorFor), request body decoding, decimal
// and date values, keyset list paging, and the handler-returns-error
// adapter. It imports only tenantstore, tenantpool and loginlimit (for the
// errors it maps); appserver and its rooms (sales, admin) use it.
package httpapi
