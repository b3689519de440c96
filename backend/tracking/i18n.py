"""The few words tracking shows to recipients (email footer, preference page), in en, zh-CN, es, pl."""

from __future__ import annotations

LANGUAGES = ("en", "zh-CN", "es", "pl")
CHANNELS = ("email", "sms", "wechat", "push")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "footer_question": "Don't want to receive these emails?",
        "footer_link": "Unsubscribe",
        "title": "Subscription preferences",
        "intro": "Choose which marketing messages {sender} may send you.",
        "unsubscribe_question": "Stop marketing messages by {channel}?",
        "unsubscribe_button": "Unsubscribe",
        "preferences_heading": "Your preferences",
        "preferences_legend": "Send me marketing messages by:",
        "save_button": "Save preferences",
        "done_unsubscribed": "Done: you will no longer receive marketing messages by {channel}.",
        "already_unsubscribed": "You are unsubscribed from marketing messages by {channel}.",
        "done_saved": "Your preferences have been saved.",
        "transactional_note": "You may still receive messages you need, such as receipts or password resets.",
        "test_notice": "This link comes from a test message: nothing will be changed.",
        "bad_form": "This form could not be checked. Please open the link from the email again.",
        "no_address": "(no address on file)",
        "channel.email": "email",
        "channel.sms": "SMS",
        "channel.wechat": "WeChat",
        "channel.push": "push notification",
        "label.email": "Email",
        "label.sms": "SMS",
        "label.wechat": "WeChat",
        "label.push": "Push notifications",
    },
    "zh-CN": {
        "footer_question": "不想再收到这类邮件？",
        "footer_link": "退订",
        "title": "订阅偏好",
        "intro": "选择 {sender} 可以向你发送哪些营销消息。",
        "unsubscribe_question": "不再通过{channel}接收营销消息？",
        "unsubscribe_button": "退订",
        "preferences_heading": "你的偏好",
        "preferences_legend": "通过以下渠道向我发送营销消息：",
        "save_button": "保存偏好",
        "done_unsubscribed": "已退订：你将不再通过{channel}收到营销消息。",
        "already_unsubscribed": "你已退订通过{channel}发送的营销消息。",
        "done_saved": "你的偏好已保存。",
        "transactional_note": "你仍可能收到必要的消息，例如收据或密码重置邮件。",
        "test_notice": "此链接来自测试消息：不会做任何更改。",
        "bad_form": "无法验证此表单。请重新打开邮件中的链接。",
        "no_address": "（未登记地址）",
        "channel.email": "邮件",
        "channel.sms": "短信",
        "channel.wechat": "微信",
        "channel.push": "推送通知",
        "label.email": "邮件",
        "label.sms": "短信",
        "label.wechat": "微信",
        "label.push": "推送通知",
    },
    "es": {
        "footer_question": "¿No quieres recibir estos correos?",
        "footer_link": "Darse de baja",
        "title": "Preferencias de suscripción",
        "intro": "Elige qué mensajes de marketing puede enviarte {sender}.",
        "unsubscribe_question": "¿Dejar de recibir mensajes de marketing por {channel}?",
        "unsubscribe_button": "Darme de baja",
        "preferences_heading": "Tus preferencias",
        "preferences_legend": "Envíame mensajes de marketing por:",
        "save_button": "Guardar preferencias",
        "done_unsubscribed": "Listo: ya no recibirás mensajes de marketing por {channel}.",
        "already_unsubscribed": "Ya no recibes mensajes de marketing por {channel}.",
        "done_saved": "Tus preferencias se han guardado.",
        "transactional_note": (
            "Es posible que sigas recibiendo mensajes necesarios, como recibos o restablecimientos de contraseña."
        ),
        "test_notice": "Este enlace procede de un mensaje de prueba: no se cambiará nada.",
        "bad_form": "No se pudo verificar este formulario. Vuelve a abrir el enlace del correo.",
        "no_address": "(sin dirección registrada)",
        "channel.email": "correo electrónico",
        "channel.sms": "SMS",
        "channel.wechat": "WeChat",
        "channel.push": "notificaciones push",
        "label.email": "Correo electrónico",
        "label.sms": "SMS",
        "label.wechat": "WeChat",
        "label.push": "Notificaciones push",
    },
    "pl": {
        "footer_question": "Nie chcesz otrzymywać tych wiadomości?",
        "footer_link": "Wypisz się",
        "title": "Ustawienia subskrypcji",
        "intro": "Wybierz, jakie wiadomości marketingowe może wysyłać Ci {sender}.",
        "unsubscribe_question": "Wypisać Cię z wiadomości marketingowych (kanał: {channel})?",
        "unsubscribe_button": "Wypisz mnie",
        "preferences_heading": "Twoje ustawienia",
        "preferences_legend": "Wysyłaj mi wiadomości marketingowe przez:",
        "save_button": "Zapisz ustawienia",
        "done_unsubscribed": "Gotowe: wypisano Cię z wiadomości marketingowych (kanał: {channel}).",
        "already_unsubscribed": "Jesteś wypisany(-a) z wiadomości marketingowych (kanał: {channel}).",
        "done_saved": "Twoje ustawienia zostały zapisane.",
        "transactional_note": "Nadal możesz otrzymywać niezbędne wiadomości, np. potwierdzenia zakupu lub reset hasła.",
        "test_notice": "Ten link pochodzi z wiadomości testowej: nic nie zostanie zmienione.",
        "bad_form": "Nie udało się zweryfikować formularza. Otwórz ponownie link z wiadomości.",
        "no_address": "(brak adresu)",
        "channel.email": "e-mail",
        "channel.sms": "SMS",
        "channel.wechat": "WeChat",
        "channel.push": "powiadomienia push",
        "label.email": "E-mail",
        "label.sms": "SMS",
        "label.wechat": "WeChat",
        "label.push": "Powiadomienia push",
    },
}


def language(*candidates: str | None) -> str:
    """The first supported language among ``candidates`` (a contact locale, an ``Accept-Language``
    header, the workspace locale, …), else English."""
    for candidate in candidates:
        for tag in (candidate or "")[:200].split(","):
            code = tag.partition(";")[0].strip().replace("_", "-").lower()
            if code.startswith("zh"):
                return "zh-CN"
            for lang in ("en", "es", "pl"):
                if code == lang or code.startswith(lang + "-"):
                    return lang
    return "en"


def text(lang: str, key: str, **values: str) -> str:
    template = TEXTS.get(lang, TEXTS["en"]).get(key) or TEXTS["en"][key]
    return template.format(**values) if values else template
