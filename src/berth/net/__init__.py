"""The kernel side of networking, synchronous like ``store``: network namespaces, links
(pyroute2), the one firewall wrapper, address arithmetic, the embedded DNS server and the
userland port proxy (docs/design/networking.md)."""
