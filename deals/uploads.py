"""Checks on uploaded proofs of performance: size, extension and the file's own signature."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

# Extension -> (content type served back, signatures the file must start with).
PROOF_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
}
PROOF_ACCEPT = ",".join(f".{extension}" for extension in PROOF_TYPES)


def validate_proof(upload) -> str:
    """Return the content type to serve the file with; raise ``ValidationError`` otherwise.

    The browser's declared type is not trusted: the extension must be one we
    accept and the first bytes must match it.
    """
    limit = settings.PRM_MAX_UPLOAD_BYTES
    if upload is None:
        raise ValidationError("Attach the proof of performance (PDF, PNG or JPEG).")
    if upload.size == 0:
        raise ValidationError("The file is empty.")
    if upload.size > limit:
        raise ValidationError(
            f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}."
        )
    name = upload.name or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in PROOF_TYPES:
        raise ValidationError("Upload a PDF, PNG or JPEG file.")
    content_type, signatures = PROOF_TYPES[extension]
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not any(head.startswith(signature) for signature in signatures):
        raise ValidationError(f"The file's content is not a {extension.upper()} file.")
    return content_type
