// Package http is the home of Penstock's HTTP connectors; the code lives in
// its sub-packages:
//
//   - sink: records to any HTTP API (Confluent's HttpSinkConnector keys),
//     batched, in partition order, retried, failed records to the dead
//     letter queue;
//   - webhook: an HTTP listener whose requests become records, answered 2xx
//     only once the broker acknowledged them;
//   - poll: an API polled on an interval, its position kept as the source
//     offset;
//   - httpclient: what the sink and the polling source share to call an API:
//     authentication (basic, bearer, OAuth2 client credentials), TLS with
//     client certificates, timeouts, and retries with backoff.
package http
