// The `cilium` product's root: `libcilium.so` is this target linked with the shared-object settings of
// Package.swift (static Swift runtime, version script, nodelete). The five entry points live in
// CiliumProxylib, which executables such as `proxylib-fuzz` link directly without these settings.
@_exported import CiliumProxylib
