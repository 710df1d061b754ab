"""Role-labelled training material: sound sources, patterns, loops and composed tracks."""
