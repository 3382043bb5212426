"""Video KYC sessions: a live person proves liveness by doing random actions in front of a camera.

Every frame is checked on the server (``features`` -> ``challenges`` -> ``tracker``); all session state
lives in the database (``repository``, ``frame_store``) so any worker can serve any frame and a restart
loses nothing. ``service`` ties it together; ``outcome`` turns a finished session into the same
graduated decision ``/verify`` gives. Nothing here imports the models: the runtime passes them in.
"""
