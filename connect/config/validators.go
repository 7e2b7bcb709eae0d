package config

import (
	"fmt"
	"regexp"
	"strings"
)

// ValidatorFunc adapts a function and a description to Validator.
type ValidatorFunc struct {
	Check       func(v any) error
	Description string
}

// Validate calls the function.
func (f ValidatorFunc) Validate(v any) error { return f.Check(v) }

// String returns the description.
func (f ValidatorFunc) String() string { return f.Description }

// AtLeast accepts Int, Long and Double values of min or more.
func AtLeast(min float64) Validator { return Range(min, nil) }

// Between accepts Int, Long and Double values from min to max inclusive.
func Between(min, max float64) Validator { return Range(min, &max) }

// Range accepts numbers of min or more and, when max is not nil, max or less.
func Range(min float64, max *float64) Validator {
	desc := fmt.Sprintf("[%v,...]", min)
	if max != nil {
		desc = fmt.Sprintf("[%v,...,%v]", min, *max)
	}
	return ValidatorFunc{Description: desc, Check: func(v any) error {
		var f float64
		switch x := v.(type) {
		case int:
			f = float64(x)
		case int64:
			f = float64(x)
		case float64:
			f = x
		default:
			return fmt.Errorf("not a number")
		}
		if f < min {
			return fmt.Errorf("Value must be at least %v", min)
		}
		if max != nil && f > *max {
			return fmt.Errorf("Value must be no more than %v", *max)
		}
		return nil
	}}
}

// OneOf accepts a String value equal to one of values, ignoring case (as
// Kafka Connect's CaseInsensitiveValidString); for a List, every item. The
// parsed value is normalised to the case of values, so code reading it
// compares with the listed constants directly.
func OneOf(values ...string) Validator { return oneOf(values) }

type oneOf []string

// Normalizer is a Validator that also gives a valid value its canonical
// form; Parse stores the normalised value.
type Normalizer interface {
	Normalize(v any) any
}

func (o oneOf) String() string { return "[" + strings.Join(o, ", ") + "]" }

func (o oneOf) canonical(s string) (string, bool) {
	for _, ok := range o {
		if strings.EqualFold(s, ok) {
			return ok, true
		}
	}
	return s, false
}

func (o oneOf) Validate(v any) error {
	check := func(s string) error {
		if _, ok := o.canonical(s); !ok {
			return fmt.Errorf("String must be one of: %s", strings.Join(o, ", "))
		}
		return nil
	}
	switch x := v.(type) {
	case string:
		return check(x)
	case []string:
		for _, s := range x {
			if err := check(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Normalize returns v in the case of the listed values.
func (o oneOf) Normalize(v any) any {
	switch x := v.(type) {
	case string:
		c, _ := o.canonical(x)
		return c
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i], _ = o.canonical(s)
		}
		return out
	}
	return v
}

// NonEmpty accepts a non-blank String or a non-empty List.
func NonEmpty() Validator {
	return ValidatorFunc{Description: "non-empty string", Check: func(v any) error {
		switch x := v.(type) {
		case string:
			if strings.TrimSpace(x) == "" {
				return fmt.Errorf("String may not be empty")
			}
		case []string:
			if len(x) == 0 {
				return fmt.Errorf("List may not be empty")
			}
		}
		return nil
	}}
}

// Regexp accepts a String that compiles as a regular expression.
func Regexp() Validator {
	return ValidatorFunc{Description: "valid regex", Check: func(v any) error {
		s, _ := v.(string)
		if _, err := regexp.Compile(s); err != nil {
			return fmt.Errorf("Invalid regex: %v", err)
		}
		return nil
	}}
}
