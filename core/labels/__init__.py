"""Label tables from any labelled CSV (targets with masks) and their join to an image folder by ID.

Stage: above ``images`` (the join indexes an image folder), below ``training``, ``inference`` and
``votes``, which all read labels.
"""
