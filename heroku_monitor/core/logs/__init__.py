"""Log-based alerts (SPEC section 12), pure: `parse` reads a drain's lines, `count` counts
them per minute, `rules` decides what to alert on."""
