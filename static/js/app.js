// filled in by the pages that need it
