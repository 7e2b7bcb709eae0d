// Package config defines the configuration keys a plugin accepts, parses
// string properties into typed values, and validates them with a result that
// maps one to one onto Kafka Connect's ConfigInfos JSON, so
// PUT /connector-plugins/{p}/config/validate answers what Kafka Connect users
// expect.
//
// A plugin declares its keys once:
//
//	var Def = config.NewDef(
//		config.Key{Name: "file", Type: config.String, Required: true,
//			Importance: config.High, Doc: "Path of the file to read."},
//		config.Key{Name: "batch.size", Type: config.Int, Default: 2000,
//			Validator: config.AtLeast(1), Importance: config.Low, Doc: "..."},
//	)
//
// and reads them with Def.Parse, which returns every problem at once.
package config
