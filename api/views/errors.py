from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # answers every method with a 404; it reads and changes nothing
def not_found(request, *args, **kwargs):
    return JsonResponse({"status": 404, "code": "not_found", "detail": "No such endpoint."}, status=404)
