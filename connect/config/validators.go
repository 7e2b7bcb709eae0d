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
// Kafka Connect's CaseInsensitiveValidString); for a List, every item.
func OneOf(values ...string) Validator {
	return ValidatorFunc{Description: "[" + strings.Join(values, ", ") + "]", Check: func(v any) error {
		check := func(s string) error {
			for _, ok := range values {
				if strings.EqualFold(s, ok) {
					return nil
				}
			}
			return fmt.Errorf("String must be one of: %s", strings.Join(values, ", "))
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
	}}
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
