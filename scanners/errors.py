"""What can go wrong on the scanner side that the core's error tree does not already name.

These extend :class:`custody.errors.CustodyError`, so the command line renders them like every
other error (Chinese first, then English) and they carry a stable ``code``::

    CustodyError
    └── ScannerError                  the scanner could not do its part
        ├── NotEnrolled               no device key in the state directory yet
        ├── ServerUnreachable         no answer (network, timeout, 5xx, 409): retry later
        ├── ServerRefused             the server answered no to a request it will refuse again
        ├── ReceiptInvalid            a receipt that does not prove our event is in the log
        └── SplitViewDetected         the log showed two histories that cannot both be true

Nothing here is raised for a label or a device signature: those are the core's
``EvidenceError`` subclasses, raised by ``labels.payload.verify`` and ``custody.keys``.
"""

from __future__ import annotations

from custody.errors import CustodyError

__all__ = [
    "NotEnrolled",
    "ReceiptInvalid",
    "ScannerError",
    "ServerRefused",
    "ServerUnreachable",
    "SplitViewDetected",
]


class ScannerError(CustodyError):
    """Base of the scanner side's own failures."""

    code = "scanner-error"
    title = "Scanner error"
    title_zh = "扫码终端错误"


class NotEnrolled(ScannerError):
    """The state directory holds no enrolled device (run ``custody scan enroll`` first)."""

    code = "scanner-not-enrolled"
    title = "Scanner not enrolled"
    title_zh = "扫码终端尚未登记"


class ServerUnreachable(ScannerError):
    """No usable answer from the server; what is queued stays queued and is sent later."""

    code = "server-unreachable"
    title = "Server unreachable"
    title_zh = "无法连接服务器"


class ServerRefused(ScannerError):
    """The server refused a request with a problem that sending it again will not change."""

    code = "server-refused"
    title = "Refused by the server"
    title_zh = "服务器拒绝请求"


class ReceiptInvalid(ScannerError):
    """A receipt that does not prove the event we sent is in the log: the event stays pending."""

    code = "receipt-invalid"
    title = "Receipt does not verify"
    title_zh = "入账回执核验未通过"

    def diagnostics(self) -> str:
        """Say that the scan is kept and who should look at it."""
        return (
            f"{super().diagnostics()}\n"
            "事件仍保留在本机待发送队列中；请将此情况报告给监管部门。 "
            "The event stays queued on this device; report this to the authority."
        )


class SplitViewDetected(ScannerError):
    """The log signed two checkpoints that cannot both be true; the evidence is kept."""

    code = "split-view"
    title = "The ledger showed two different histories"
    title_zh = "账本向本机展示了相互矛盾的历史"

    def diagnostics(self) -> str:
        """Tell the operator what was kept and what to do."""
        return (
            f"{super().diagnostics()}\n"
            "两份签名检查点及一致性证明已保存在本机 outbox 数据库的 split_view 表中；"
            "同步已停止，请立即报告监管部门并保留本设备。 "
            "Both signed checkpoints and the proof are kept in the outbox database (table "
            "split_view); syncing has stopped. Report this at once and keep this device."
        )
