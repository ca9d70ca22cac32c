from django import template

from levqor.dashboard import dashboard

register = template.Library()


@register.inclusion_tag("admin/levqor/dashboard.html", takes_context=True)
def order_dashboard(context):
    return {"dashboard": dashboard(context["request"].user)}
