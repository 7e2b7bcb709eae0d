package schemaregistry

import (
	"fmt"
	"net/http"
)

// Error is a Schema Registry error, with Confluent's error codes: the HTTP
// status is the code's first three digits (40401 -> 404), 409 stays 409.
type Error struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("schema registry error %d: %s", e.Code, e.Message) }

// Status is the HTTP status of the error.
func (e *Error) Status() int {
	if e.Code < 1000 {
		return e.Code
	}
	return e.Code / 100
}

// Confluent's error codes.
const (
	CodeSubjectNotFound          = 40401
	CodeVersionNotFound          = 40402
	CodeSchemaNotFound           = 40403
	CodeSubjectSoftDeleted       = 40404
	CodeSubjectNotSoftDeleted    = 40405
	CodeVersionSoftDeleted       = 40406
	CodeVersionNotSoftDeleted    = 40407
	CodeSubjectConfigNotFound    = 40408
	CodeSubjectModeNotFound      = 40409
	CodeIncompatible             = http.StatusConflict
	CodeInvalidSchema            = 42201
	CodeInvalidVersion           = 42202
	CodeInvalidCompatibility     = 42203
	CodeInvalidMode              = 42204
	CodeOperationNotPermitted    = 42205
	CodeReferenceExists          = 42206
	CodeStoreError               = 50001
	CodeTimeout                  = 50002
	CodeUnprocessableEntityInput = 422
)

func errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func subjectNotFound(s string) *Error {
	return errorf(CodeSubjectNotFound, "Subject '%s' not found.", s)
}

func versionNotFound(v int) *Error {
	return errorf(CodeVersionNotFound, "Version %d not found.", v)
}
