"""The ``file`` source: exports an on-call engineer made by hand, in any registered format."""
