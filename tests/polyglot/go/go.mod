module cadenza.dev/polyglot

go 1.26.0

require (
	cadenza.dev/sdk v0.0.0
	google.golang.org/grpc v1.85.0
)

require (
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// The SDK in this repository, not a published version.
replace cadenza.dev/sdk => ../../../libs/sdk/go
