"""Array errors: an HTTP status plus a stable code a driver can act on."""


class ArrayError(Exception):
    """Raised by the model; the server answers ``{"error": {"code", "message"}}``."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_dict(self):
        return {"error": {"code": self.code, "message": self.message}}


def not_found(kind, name):
    return ArrayError(404, f"{kind}.not_found", f"{kind} {name!r} does not exist")


def exists(kind, name):
    return ArrayError(409, f"{kind}.exists", f"{kind} {name!r} already exists")


def invalid(message):
    return ArrayError(400, "request.invalid", message)
