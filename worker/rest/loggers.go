package rest

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// errNoLevels answers /admin/loggers on a server built without WithLogLevels.
var errNoLevels = &Error{Status: http.StatusNotImplemented, Message: "Log levels cannot be adjusted on this worker"}

// listLoggers answers GET /admin/loggers: {"name":{"level","last_modified"}}.
func (s *Server) listLoggers(c echo.Context) error {
	if s.levels == nil {
		return errNoLevels
	}
	return writeJSON(c, http.StatusOK, s.levels.LoggerLevels())
}

// getLogger answers GET /admin/loggers/{name}; 404 for an unknown logger.
func (s *Server) getLogger(c echo.Context) error {
	if s.levels == nil {
		return errNoLevels
	}
	name := param(c, "name")
	lvl, ok := s.levels.LoggerLevel(name)
	if !ok {
		return NotFound("Logger %s not found.", name)
	}
	return writeJSON(c, http.StatusOK, lvl)
}

// setLogger answers PUT /admin/loggers/{name} with {"level":"DEBUG"}: 200
// with the names of the loggers it changed; 400 without a level, 404 for a
// level that does not exist (Kafka Connect's codes). With ?scope=cluster
// Kafka Connect publishes the level to every worker and answers 204; a single
// worker applies it to itself and answers 204 likewise. Any other scope is
// the worker scope.
func (s *Server) setLogger(c echo.Context) error {
	if s.levels == nil {
		return errNoLevels
	}
	name := param(c, "name")
	var body map[string]json.RawMessage
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	raw, ok := body["level"]
	var levelStr string
	if ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &levelStr); err != nil {
			return BadRequest("The 'level' parameter must be a string such as \"DEBUG\"")
		}
	} else {
		return BadRequest("Desired 'level' parameter was not specified in request.")
	}
	level, ok := ParseLevel(levelStr)
	if !ok {
		return NotFound("invalid log level '%s'.", levelStr)
	}
	changed := s.levels.SetLoggerLevel(name, level)
	s.log.Info("log level changed", "logger", name, "level", LevelName(level), "changed", len(changed))
	if strings.EqualFold(c.QueryParam("scope"), "cluster") {
		return c.NoContent(http.StatusNoContent)
	}
	return writeJSON(c, http.StatusOK, nonNil(changed))
}
