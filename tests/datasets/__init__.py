"""Dataset loader tests and the tiny real-format dataset fixtures other tests build on."""
