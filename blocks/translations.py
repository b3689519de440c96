"""Translations of the built-in blocks for the editor (zh-CN, es, pl; English is the source text).

``BLOCKS`` holds each block's label and description; ``TEXTS`` translates the titles and help texts
inside the config schemas by their English wording, so nested fields (rule trees, branches) are covered
too; ``PROBLEMS`` translates the blocks' own validation messages (``check()``) by their English wording.
A block picks up its entry with ``translations = for_block("<type>")``.
"""

from __future__ import annotations

LOCALES = ("zh-CN", "es", "pl")

BLOCKS: dict[str, dict[str, tuple[str, str]]] = {
    "trigger.event": {
        "zh-CN": ("当事件发生时", "联系人执行某个事件时进入旅程，例如 registration_started。"),
        "es": ("Cuando ocurre un evento", "Los contactos entran al realizar un evento, p. ej. registration_started."),
        "pl": ("Gdy wystąpi zdarzenie", "Kontakty wchodzą, gdy wykonają zdarzenie, np. registration_started."),
    },
    "trigger.date": {
        "zh-CN": ("在某个日期", "在某个日期之前或之后 N 天进入，例如订阅到期前 7 天。"),
        "es": (
            "En una fecha",
            "Los contactos entran N días antes o después de una fecha, p. ej. 7 días antes de que venza una suscripción.",
        ),
        "pl": ("W dniu", "Kontakty wchodzą N dni przed datą lub po niej, np. 7 dni przed końcem subskrypcji."),
    },
    "trigger.manual": {
        "zh-CN": ("手动加入", "通过 API 或手动添加的联系人进入旅程。"),
        "es": ("Inscripción manual", "Los contactos entran cuando se añaden por la API o a mano."),
        "pl": ("Dodani ręcznie", "Kontakty wchodzą, gdy zostaną dodane przez API lub ręcznie."),
    },
    "wait.duration": {
        "zh-CN": ("等待", "让联系人等待一段固定时间后再进入下一步。"),
        "es": ("Esperar", "Retiene a los contactos un tiempo fijo antes del siguiente paso."),
        "pl": ("Czekaj", "Zatrzymuje kontakty na określony czas przed następnym krokiem."),
    },
    "wait.until": {
        "zh-CN": ("等待至", "让联系人等待到某个日期，或其所在时区的下一个指定时间。"),
        "es": (
            "Esperar hasta",
            "Retiene a los contactos hasta una fecha o la próxima hora elegida en su zona horaria.",
        ),
        "pl": ("Czekaj do", "Zatrzymuje kontakty do daty lub najbliższej wybranej godziny w ich strefie czasowej."),
    },
    "wait.event": {
        "zh-CN": ("等待事件", "让联系人等待直到他们执行某个操作，或直到超时。"),
        "es": ("Esperar un evento", "Retiene a los contactos hasta que hagan algo o se agote el tiempo."),
        "pl": ("Czekaj na zdarzenie", "Zatrzymuje kontakty, aż coś zrobią albo minie limit czasu."),
    },
    "condition": {
        "zh-CN": ("条件", "根据规则将联系人分到“是”或“否”分支。"),
        "es": ("Condición", "Envía a los contactos por sí o por no según una regla."),
        "pl": ("Warunek", "Kieruje kontakty na ścieżkę tak lub nie zależnie od reguły."),
    },
    "split.random": {
        "zh-CN": ("随机分流", "按权重将联系人分配到各分支，例如 A/B 测试的 50/50。"),
        "es": (
            "División aleatoria",
            "Reparte a los contactos entre ramas según su peso, p. ej. 50/50 en una prueba A/B.",
        ),
        "pl": ("Losowy podział", "Dzieli kontakty między gałęzie według wag, np. 50/50 w teście A/B."),
    },
    "tag": {
        "zh-CN": ("标签 / 更新联系人", "为联系人添加或移除标签，并设置属性。"),
        "es": ("Etiquetar / actualizar contacto", "Añade o quita etiquetas y establece atributos del contacto."),
        "pl": ("Otaguj / zaktualizuj kontakt", "Dodaje lub usuwa tagi i ustawia atrybuty kontaktu."),
    },
    "send": {
        "zh-CN": ("发送消息", "使用模板发送邮件、短信、微信或推送消息。"),
        "es": ("Enviar mensaje", "Envía un email, SMS, WeChat o notificación push desde una plantilla."),
        "pl": ("Wyślij wiadomość", "Wysyła e-mail, SMS, wiadomość WeChat lub push z szablonu."),
    },
    "webhook": {
        "zh-CN": ("Webhook", "携带联系人数据调用一个 HTTP 接口。"),
        "es": ("Webhook", "Llama a un endpoint HTTP con los datos del contacto."),
        "pl": ("Webhook", "Wywołuje endpoint HTTP z danymi kontaktu."),
    },
    "exit": {
        "zh-CN": ("退出", "让联系人离开旅程。"),
        "es": ("Salir", "Saca a los contactos del recorrido."),
        "pl": ("Wyjście", "Usuwa kontakty ze ścieżki."),
    },
}

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "Add tags": "添加标签",
        "Remove tags": "移除标签",
        "Set attributes": "设置属性",
        "Attribute": "属性",
        "Dotted path into the attributes, e.g. plan or address.city": "属性路径（用点分隔），例如 plan 或 address.city",
        "Event": "事件",
        "Property": "属性字段",
        "Tag": "标签",
        "Template": "模板",
        "Channel": "渠道",
        "Branch name": "分支名称",
        "Weight": "权重",
        "URL": "URL",
        "Body template": "请求体模板",
        "Jinja2; empty sends the contact as JSON": "Jinja2 模板；留空则以 JSON 发送联系人数据",
        "Wait for": "等待时长",
        "ISO 8601 duration, e.g. PT2H or P3D": "ISO 8601 时长，例如 PT2H 或 P3D",
        "ISO 8601 duration": "ISO 8601 时长",
        "Give up after": "超时时间",
        "Local time (HH:MM)": "当地时间（HH:MM）",
        "Date and time (UTC unless it has an offset)": "日期和时间（未注明时区时为 UTC）",
        "Only on these weekdays (0 = Monday; empty = any day)": "仅限这些星期几（0 = 周一；留空 = 每天）",
        "Days after the date (negative: before)": "日期之后的天数（负数表示之前）",
        "Every year (anniversaries, birthdays)": "每年（纪念日、生日）",
        "Product name (any when empty)": "产品名称（留空表示任意）",
        "Fallback order (for the best channel)": "备选顺序（用于最佳渠道）",
        "Marketing message": "营销消息",
        "Marketing messages respect unsubscribes": "营销消息会遵守退订设置",
        "Reason (shown in reports)": "原因（显示在报表中）",
        "Every rule holds.": "所有规则都成立。",
        "At least one rule holds.": "至少一条规则成立。",
        "The contact has an address on the channel and has not unsubscribed from it.": "联系人在该渠道有地址且未退订。",
        "The contact has a product/subscription record matching every given field.": "联系人有一条与所有给定字段匹配的产品/订阅记录。",
        "The contact performed the event at least, at most or exactly this many times within the window.": "联系人在时间窗口内执行该事件至少、至多或恰好这么多次。",
    },
    "es": {
        "Add tags": "Añadir etiquetas",
        "Remove tags": "Quitar etiquetas",
        "Set attributes": "Establecer atributos",
        "Attribute": "Atributo",
        "Dotted path into the attributes, e.g. plan or address.city": "Ruta con puntos dentro de los atributos, p. ej. plan o address.city",
        "Event": "Evento",
        "Property": "Propiedad",
        "Tag": "Etiqueta",
        "Template": "Plantilla",
        "Channel": "Canal",
        "Branch name": "Nombre de la rama",
        "Weight": "Peso",
        "URL": "URL",
        "Body template": "Plantilla del cuerpo",
        "Jinja2; empty sends the contact as JSON": "Jinja2; vacío envía el contacto como JSON",
        "Wait for": "Esperar",
        "ISO 8601 duration, e.g. PT2H or P3D": "Duración ISO 8601, p. ej. PT2H o P3D",
        "ISO 8601 duration": "Duración ISO 8601",
        "Give up after": "Dejar de esperar tras",
        "Local time (HH:MM)": "Hora local (HH:MM)",
        "Date and time (UTC unless it has an offset)": "Fecha y hora (UTC salvo que indique un desfase)",
        "Only on these weekdays (0 = Monday; empty = any day)": "Solo estos días de la semana (0 = lunes; vacío = cualquier día)",
        "Days after the date (negative: before)": "Días después de la fecha (negativo: antes)",
        "Every year (anniversaries, birthdays)": "Cada año (aniversarios, cumpleaños)",
        "Product name (any when empty)": "Nombre del producto (cualquiera si está vacío)",
        "Fallback order (for the best channel)": "Orden de respaldo (para el mejor canal)",
        "Marketing message": "Mensaje de marketing",
        "Marketing messages respect unsubscribes": "Los mensajes de marketing respetan las bajas",
        "Reason (shown in reports)": "Motivo (se muestra en los informes)",
        "Every rule holds.": "Se cumplen todas las reglas.",
        "At least one rule holds.": "Se cumple al menos una regla.",
        "The contact has an address on the channel and has not unsubscribed from it.": "El contacto tiene una dirección en el canal y no se ha dado de baja.",
        "The contact has a product/subscription record matching every given field.": "El contacto tiene un producto o suscripción que coincide con todos los campos indicados.",
        "The contact performed the event at least, at most or exactly this many times within the window.": "El contacto realizó el evento al menos, como máximo o exactamente este número de veces en el periodo.",
    },
    "pl": {
        "Add tags": "Dodaj tagi",
        "Remove tags": "Usuń tagi",
        "Set attributes": "Ustaw atrybuty",
        "Attribute": "Atrybut",
        "Dotted path into the attributes, e.g. plan or address.city": "Ścieżka z kropkami w atrybutach, np. plan lub address.city",
        "Event": "Zdarzenie",
        "Property": "Właściwość",
        "Tag": "Tag",
        "Template": "Szablon",
        "Channel": "Kanał",
        "Branch name": "Nazwa gałęzi",
        "Weight": "Waga",
        "URL": "URL",
        "Body template": "Szablon treści",
        "Jinja2; empty sends the contact as JSON": "Jinja2; puste wysyła kontakt jako JSON",
        "Wait for": "Czekaj przez",
        "ISO 8601 duration, e.g. PT2H or P3D": "Czas trwania ISO 8601, np. PT2H lub P3D",
        "ISO 8601 duration": "Czas trwania ISO 8601",
        "Give up after": "Zrezygnuj po",
        "Local time (HH:MM)": "Czas lokalny (GG:MM)",
        "Date and time (UTC unless it has an offset)": "Data i godzina (UTC, chyba że podano przesunięcie)",
        "Only on these weekdays (0 = Monday; empty = any day)": "Tylko w te dni tygodnia (0 = poniedziałek; puste = każdy dzień)",
        "Days after the date (negative: before)": "Dni po dacie (ujemne: przed)",
        "Every year (anniversaries, birthdays)": "Co roku (rocznice, urodziny)",
        "Product name (any when empty)": "Nazwa produktu (dowolna, gdy puste)",
        "Fallback order (for the best channel)": "Kolejność zapasowa (dla najlepszego kanału)",
        "Marketing message": "Wiadomość marketingowa",
        "Marketing messages respect unsubscribes": "Wiadomości marketingowe respektują wypisania",
        "Reason (shown in reports)": "Powód (widoczny w raportach)",
        "Every rule holds.": "Wszystkie reguły są spełnione.",
        "At least one rule holds.": "Co najmniej jedna reguła jest spełniona.",
        "The contact has an address on the channel and has not unsubscribed from it.": "Kontakt ma adres w tym kanale i się z niego nie wypisał.",
        "The contact has a product/subscription record matching every given field.": "Kontakt ma produkt lub subskrypcję zgodną ze wszystkimi podanymi polami.",
        "The contact performed the event at least, at most or exactly this many times within the window.": "Kontakt wykonał zdarzenie co najmniej, co najwyżej lub dokładnie tyle razy w tym okresie.",
    },
}

PROBLEMS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "list the channels to choose the best one from": "请列出可供选择最佳渠道的渠道",
        "at least one branch needs a weight above zero": "至少有一个分支的权重需要大于零",
        "add a tag, remove a tag or set an attribute": "请添加标签、移除标签或设置属性",
        "choose the date attribute to count from": "请选择作为计算起点的日期属性",
        "a wait cannot be negative": "等待时间不能为负数",
        "the timeout must be longer than zero": "超时时间必须大于零",
        "choose the date and time to wait until": "请选择要等待到的日期和时间",
        "choose the time of day to wait until": "请选择要等待到的每天时间",
        "use a duration such as P7D (7 days) or PT12H (12 hours)": "请使用时长，例如 P7D（7 天）或 PT12H（12 小时）",
        "use a list of values": "请使用值列表",
        "choose a value to compare with": "请选择要比较的值",
        "the window must be longer than zero": "时间窗口必须大于零",
    },
    "es": {
        "list the channels to choose the best one from": "indica los canales entre los que elegir el mejor",
        "at least one branch needs a weight above zero": "al menos una rama necesita un peso mayor que cero",
        "add a tag, remove a tag or set an attribute": "añade una etiqueta, quita una etiqueta o establece un atributo",
        "choose the date attribute to count from": "elige el atributo de fecha desde el que contar",
        "a wait cannot be negative": "una espera no puede ser negativa",
        "the timeout must be longer than zero": "el tiempo límite debe ser mayor que cero",
        "choose the date and time to wait until": "elige la fecha y la hora hasta la que esperar",
        "choose the time of day to wait until": "elige la hora del día hasta la que esperar",
        "use a duration such as P7D (7 days) or PT12H (12 hours)": "usa una duración como P7D (7 días) o PT12H (12 horas)",
        "use a list of values": "usa una lista de valores",
        "choose a value to compare with": "elige un valor con el que comparar",
        "the window must be longer than zero": "el periodo debe ser mayor que cero",
    },
    "pl": {
        "list the channels to choose the best one from": "wymień kanały, spośród których wybrać najlepszy",
        "at least one branch needs a weight above zero": "co najmniej jedna gałąź musi mieć wagę większą od zera",
        "add a tag, remove a tag or set an attribute": "dodaj tag, usuń tag lub ustaw atrybut",
        "choose the date attribute to count from": "wybierz atrybut daty, od którego liczyć",
        "a wait cannot be negative": "czekanie nie może być ujemne",
        "the timeout must be longer than zero": "limit czasu musi być dłuższy niż zero",
        "choose the date and time to wait until": "wybierz datę i godzinę, do której czekać",
        "choose the time of day to wait until": "wybierz godzinę dnia, do której czekać",
        "use a duration such as P7D (7 days) or PT12H (12 hours)": "użyj czasu trwania, np. P7D (7 dni) lub PT12H (12 godzin)",
        "use a list of values": "użyj listy wartości",
        "choose a value to compare with": "wybierz wartość do porównania",
        "the window must be longer than zero": "okres musi być dłuższy niż zero",
    },
}


def for_block(block_type: str) -> dict[str, dict[str, str]]:
    """The ``translations`` mapping of a built-in block: its label and description plus schema texts
    and validation messages."""
    out: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        label, description = BLOCKS[block_type][locale]
        out[locale] = {"label": label, "description": description}
        out[locale].update({f"text.{english}": text for english, text in TEXTS[locale].items()})
        out[locale].update({f"problem.{english}": text for english, text in PROBLEMS[locale].items()})
    return out
