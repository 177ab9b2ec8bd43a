"""The receipt page: the channel for recipients outside the workspace, who confirm a share through a link."""

from adapters.receipt.page import RECEIPT_LIMITS, ReceiptLimits, csrf_token, mount_receipts

__all__ = ["RECEIPT_LIMITS", "ReceiptLimits", "csrf_token", "mount_receipts"]
