"""The production Zuul config: site settings, rendering of zuul.d/, recheck regexes."""
