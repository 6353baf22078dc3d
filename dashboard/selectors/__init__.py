"""One selector per page: it takes the parsed range, filter or object and returns a
frozen dataclass with everything the page's template shows, charts included."""
