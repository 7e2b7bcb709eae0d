package plugins

// PenstockVersion is the version /connector-plugins reports for the plugins
// Penstock ships that have no version of their own.
const PenstockVersion = "0.1.0-dev"
