"""voicemend as a chain stage, presets, batch rendering, DAW interchange and the CLI."""
