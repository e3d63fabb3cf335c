"""Reading a published zuul-manifest.json as zuul-web's log browser does."""


def listed_files(manifest):
    """Every file path the manifest's tree names, relative to the log root."""
    listed = set()

    def walk(entries, prefix):
        for entry in entries:
            if "children" in entry:
                walk(entry["children"], prefix + entry["name"] + "/")
            else:
                listed.add(prefix + entry["name"])

    walk(manifest["tree"], "")
    return listed
