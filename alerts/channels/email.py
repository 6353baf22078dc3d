import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from alerts.channels.base import DeliveryError, Message, Transport
from alerts.errors import UnsendableMessage


class EmailTransport(Transport):
    """Plain text and HTML through Django's SMTP backend (EMAIL_* settings)."""

    kind = "email"

    def send(self, message: Message) -> None:
        context = {"message": message}
        email = EmailMultiAlternatives(
            subject=message.title,
            body=render_to_string("alerts/email.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=self.channel.recipients,
        )
        email.attach_alternative(render_to_string("alerts/email.html", context), "text/html")
        try:
            email.message()  # builds the headers: a bad one fails here, not in SMTP
        except ValueError as exc:  # Django's BadHeaderError is one
            raise UnsendableMessage(f"the email cannot be built: {exc}") from None
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            # Every address refused: a typo in the channel, not a passing outage.
            raise DeliveryError(f"recipients refused: {exc.recipients}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
