from tests.alerts.receivers import http_receiver, smtp_server

__all__ = ["http_receiver", "smtp_server"]
