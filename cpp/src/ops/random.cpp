// (filled in by issue 7)
