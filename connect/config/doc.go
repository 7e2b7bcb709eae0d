// Package config defines the configuration keys a plugin accepts, parses
// string properties into typed values, and validates them with a result that
// maps one to one onto Kafka Connect's ConfigInfos JSON, so
// PUT /connector-plugins/{p}/config/validate answers what Kafka Connect users
// expect.
//
// A plugin declares each key once, bound to the field of its settings struct
// that receives the typed value:
//
//	type settings struct {
//		path      string
//		batchSize int
//		poll      time.Duration
//	}
//
//	var binding = config.Bind(
//		config.StringField(config.Key{Name: "file", Required: true,
//			Importance: config.High, Doc: "Path of the file to read."},
//			func(s *settings) *string { return &s.path }),
//		config.IntField(config.Key{Name: "batch.size", Default: 2000,
//			Validator: config.AtLeast(1), Importance: config.Low, Doc: "..."},
//			func(s *settings) *int { return &s.batchSize }),
//		config.DurationField(config.Key{Name: "poll.interval.ms", Default: time.Second,
//			Importance: config.Low, Doc: "..."},
//			func(s *settings) *time.Duration { return &s.poll }),
//	)
//
// binding.Def() is what the plugin's Config returns; binding.Parse(props, &s)
// fills s and returns every problem at once. The field constructor sets the
// key's Type; Bind panics when a Default does not fit the field. Durations
// are *.ms keys read as time.Duration. OneOf accepts any case and stores the
// listed spelling. NewDef and Def.Parse with Values getters remain for keys
// read without a struct.
package config
