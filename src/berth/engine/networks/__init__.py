"""Networks: the daemon's networks and each container's place on them
(docs/design/networking.md)."""
