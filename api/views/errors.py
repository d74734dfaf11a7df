from django.http import JsonResponse


def not_found(request, *args, **kwargs):
    return JsonResponse({"status": 404, "code": "not_found", "detail": "No such endpoint."}, status=404)
